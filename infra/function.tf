# The Lambda function, its `live` alias and the alias's public Function URL. CD releases a commit by
# publishing its image as a new version and moving the alias (src/nlpops/deploy/release.py); Terraform
# creates the function once (var.image_tag) and leaves its image and the alias's version to CD.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${local.function_name}-function"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

# What the running function may do: write its own logs and traces, nothing else.
data "aws_iam_policy_document" "function" {
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }

  statement {
    sid       = "Traces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions for these
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "logs-and-traces"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:the logs hold request ids, timings and errors, never request texts; CloudWatch encrypts them at rest
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "api" {
  #checkov:skip=CKV_AWS_116:invoked synchronously over HTTP: the caller gets the error; a DLQ only catches async events
  #checkov:skip=CKV_AWS_117:reaches no private resource (the model is inside the image), so no VPC to attach to
  #checkov:skip=CKV_AWS_272:Lambda code signing supports zip packages only, not container images
  count = local.create_function ? 1 : 0

  function_name                  = local.function_name
  description                    = "nlpops text classifier (FastAPI + ONNX Runtime), served through the live alias"
  role                           = aws_iam_role.function.arn
  package_type                   = "Image"
  image_uri                      = "${aws_ecr_repository.lambda.repository_url}:${coalesce(var.image_tag, "released-by-cd")}"
  architectures                  = ["x86_64"]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency
  publish                        = true # version 1, the first target of the alias

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  lifecycle {
    ignore_changes = [image_uri] # CD deploys images: after the creation this value is never used
  }

  depends_on = [aws_iam_role_policy.function, aws_ecr_repository_policy.lambda]
}

resource "aws_lambda_alias" "live" {
  count = local.create_function ? 1 : 0

  name             = local.settings.LAMBDA_ALIAS
  description      = "The version serving traffic; CD moves it on each release and back on a failed smoke test"
  function_name    = aws_lambda_function.api[0].function_name
  function_version = aws_lambda_function.api[0].version

  lifecycle {
    ignore_changes = [function_version] # CD moves the alias
  }
}

resource "aws_lambda_function_url" "live" {
  #checkov:skip=CKV_AWS_258:a public prediction API by design; reserved concurrency caps what anonymous traffic can cost
  count = local.create_function ? 1 : 0

  function_name      = aws_lambda_function.api[0].function_name
  qualifier          = aws_lambda_alias.live[0].name
  authorization_type = "NONE"
  invoke_mode        = "BUFFERED"
}

# A URL with auth type NONE needs both statements (lambda:InvokeFunction only through the URL).
resource "aws_lambda_permission" "url" {
  #checkov:skip=CKV_AWS_301:public by design: anyone may call the Function URL (auth type NONE), and only the URL
  count = local.create_function ? 1 : 0

  statement_id           = "PublicFunctionUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.api[0].function_name
  qualifier              = aws_lambda_alias.live[0].name
  principal              = "*"
  function_url_auth_type = "NONE"
}

resource "aws_lambda_permission" "url_invoke" {
  #checkov:skip=CKV_AWS_301:public by design, and limited to invocations that come through the Function URL
  count = local.create_function ? 1 : 0

  statement_id             = "PublicFunctionUrlInvoke"
  action                   = "lambda:InvokeFunction"
  function_name            = aws_lambda_function.api[0].function_name
  qualifier                = aws_lambda_alias.live[0].name
  principal                = "*"
  invoked_via_function_url = true
}

resource "aws_lambda_provisioned_concurrency_config" "live" {
  count = local.create_function && var.provisioned_concurrency > 0 ? 1 : 0

  function_name                     = aws_lambda_function.api[0].function_name
  qualifier                         = aws_lambda_alias.live[0].name
  provisioned_concurrent_executions = var.provisioned_concurrency
}
