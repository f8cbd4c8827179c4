# One Lambda function per task (local.functions), each with an alias per registry stage (STAGES: `staging`,
# `prod`) and each alias's public Function URL. CD releases a commit by publishing each task's image as a new
# version and moving that function's `staging` alias, and a stage tag (`gto assign`) by moving the stage's alias
# (src/nlpops/deploy/release.py); Terraform creates a function once (var.image_tag) and leaves its image, its
# environment (the model's registry name, version and stage) and the aliases' versions to CD.

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
  for_each = local.functions

  name               = "${each.value}-function"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

# What a running function may do: write its own logs and traces, nothing else.
data "aws_iam_policy_document" "function" {
  for_each = local.functions

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  statement {
    sid       = "Traces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions for these
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name   = "logs-and-traces"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:the logs hold request ids, timings and errors, never request texts; CloudWatch encrypts them at rest
  for_each = local.functions

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "api" {
  #checkov:skip=CKV_AWS_116:invoked synchronously over HTTP: the caller gets the error; a DLQ only catches async events
  #checkov:skip=CKV_AWS_117:reaches no private resource (the model is inside the image), so no VPC to attach to
  #checkov:skip=CKV_AWS_272:Lambda code signing supports zip packages only, not container images
  for_each = local.created_functions

  function_name                  = each.value
  description                    = "${replace(each.value, "-", " ")} (FastAPI + ONNX Runtime), served through its stage aliases"
  role                           = aws_iam_role.function[each.key].arn
  package_type                   = "Image"
  image_uri                      = "${aws_ecr_repository.lambda[each.key].repository_url}:${coalesce(var.image_tag, "released-by-cd")}"
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
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  lifecycle {
    ignore_changes = [image_uri, environment] # CD deploys images and sets NLPOPS_MODEL_* for each version
  }

  depends_on = [aws_iam_role_policy.function, aws_ecr_repository_policy.lambda]
}

resource "aws_lambda_alias" "stage" {
  for_each = { for key, alias in local.aliases : key => alias if contains(keys(aws_lambda_function.api), alias.task) }

  name             = each.value.stage
  description      = "The version serving the ${each.value.stage} stage; CD moves it on each release and back on a failed smoke test"
  function_name    = aws_lambda_function.api[each.value.task].function_name
  function_version = aws_lambda_function.api[each.value.task].version

  lifecycle {
    ignore_changes = [function_version] # CD moves the alias
  }
}

resource "aws_lambda_function_url" "stage" {
  #checkov:skip=CKV_AWS_258:a public prediction API by design; reserved concurrency caps what anonymous traffic can cost
  for_each = aws_lambda_alias.stage

  function_name      = each.value.function_name
  qualifier          = each.value.name
  authorization_type = "NONE"
  invoke_mode        = "BUFFERED"
}

# A URL with auth type NONE needs both statements (lambda:InvokeFunction only through the URL).
resource "aws_lambda_permission" "url" {
  #checkov:skip=CKV_AWS_301:public by design: anyone may call the Function URL (auth type NONE), and only the URL
  for_each = aws_lambda_alias.stage

  statement_id           = "PublicFunctionUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = each.value.function_name
  qualifier              = each.value.name
  principal              = "*"
  function_url_auth_type = "NONE"
}

resource "aws_lambda_permission" "url_invoke" {
  #checkov:skip=CKV_AWS_301:public by design, and limited to invocations that come through the Function URL
  for_each = aws_lambda_alias.stage

  statement_id             = "PublicFunctionUrlInvoke"
  action                   = "lambda:InvokeFunction"
  function_name            = each.value.function_name
  qualifier                = each.value.name
  principal                = "*"
  invoked_via_function_url = true
}

# Warm environments for the promoted stages only: the alias a push to main moves (staging) takes cold starts.
resource "aws_lambda_provisioned_concurrency_config" "stage" {
  for_each = {
    for key, alias in aws_lambda_alias.stage : key => alias
    if var.provisioned_concurrency > 0 && alias.name != local.settings.LAMBDA_ALIAS
  }

  function_name                     = each.value.function_name
  qualifier                         = each.value.name
  provisioned_concurrent_executions = var.provisioned_concurrency
}
