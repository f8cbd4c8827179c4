# Training on SageMaker (python -m nlpops.cloud, docs/cloud-setup.md): the train image's ECR repository, the
# execution role its jobs run as, and its log group. The role may pull its image, read the DVC remote (the data
# channel is a DVC object), read and write its own prefixes (sagemaker/checkpoints: spot resumes,
# sagemaker/output: model.tar.gz) and write its logs and metrics; nothing else. The deploy role (github.tf) may
# push the image and start, follow and stop jobs that run as this role, and pass no other role.
locals {
  train_repository    = "${local.settings.NAME_PREFIX}-train"
  sagemaker_prefixes  = ["sagemaker/checkpoints", "sagemaker/output"] # nlpops.cloud.settings
  sagemaker_log_group = "/aws/sagemaker/TrainingJobs"                 # SageMaker's fixed name
  # the jobs nlpops.cloud names: NAME_PREFIX-train-..., NAME_PREFIX-tune-... (a tuning job's trials included)
  sagemaker_job_arns = [
    "arn:aws:sagemaker:${local.settings.AWS_REGION}:${local.account_id}:training-job/${local.settings.NAME_PREFIX}-*",
    "arn:aws:sagemaker:${local.settings.AWS_REGION}:${local.account_id}:hyper-parameter-tuning-job/${local.settings.NAME_PREFIX}-*",
  ]
}

resource "aws_ecr_repository" "train" {
  name                 = local.train_repository
  image_tag_mutability = "IMMUTABLE" # a SHA tag always means the same image: a job's record names it

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS" # the AWS managed key aws/ecr
  }
}

resource "aws_ecr_lifecycle_policy" "train" {
  repository = aws_ecr_repository.train.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Untagged images (interrupted pushes) go after a day"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 1
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the newest ${var.images_to_keep} images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.images_to_keep
        }
        action = { type = "expire" }
      },
    ]
  })
}

resource "aws_cloudwatch_log_group" "sagemaker" {
  #checkov:skip=CKV_AWS_158:training logs hold progress lines and metrics, never data; CloudWatch encrypts them at rest
  name              = local.sagemaker_log_group
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "sagemaker_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "sagemaker" {
  name                 = "${local.settings.NAME_PREFIX}-sagemaker"
  description          = "SageMaker training and tuning jobs of ${local.settings.NAME_PREFIX}: its image, data, prefixes, logs"
  assume_role_policy   = data.aws_iam_policy_document.sagemaker_assume.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "sagemaker" {
  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # account-wide by design: the token only opens what PullTrainImage allows
  }

  statement {
    sid       = "PullTrainImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [aws_ecr_repository.train.arn]
  }

  statement {
    sid       = "ListOwnPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = concat(["${local.dvc_remote.prefix}/*"], [for prefix in local.sagemaker_prefixes : "${prefix}/*"])
    }
  }

  statement {
    sid       = "ReadDvcRemote"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.dvc_remote.prefix}/*"]
  }

  statement {
    sid       = "CheckpointsAndOutput"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [for prefix in local.sagemaker_prefixes : "${aws_s3_bucket.artifacts.arn}/${prefix}/*"]
  }

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.sagemaker.arn}:*"]
  }

  statement {
    sid       = "OwnMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource-level permissions: the namespace condition scopes it

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/TrainingJobs"]
    }
  }
}

resource "aws_iam_role_policy" "sagemaker" {
  name   = "train"
  role   = aws_iam_role.sagemaker.id
  policy = data.aws_iam_policy_document.sagemaker.json
}
