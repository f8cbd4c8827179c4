# The Lambda images, a repository per task named like its function, tagged with the commit SHA they were built
# from. One per task rather than one shared: each keeps its own images_to_keep rollback targets, only its own
# function may pull from it, and the tag stays the bare SHA (a re-run of a commit finds its image per task).
resource "aws_ecr_repository" "lambda" {
  for_each = local.functions

  name                 = each.value
  image_tag_mutability = "IMMUTABLE" # a SHA tag always means the same image: what a rollback relies on

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS" # the AWS managed key aws/ecr
  }
}

resource "aws_ecr_lifecycle_policy" "lambda" {
  for_each = aws_ecr_repository.lambda

  repository = each.value.name
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

# Lambda pulls a task's images with its own service principal, for that task's function only.
data "aws_iam_policy_document" "lambda_pull" {
  for_each = local.function_arns

  statement {
    sid     = "LambdaPull"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "aws:sourceArn"
      values   = [each.value, "${each.value}:*"]
    }
  }
}

resource "aws_ecr_repository_policy" "lambda" {
  for_each = aws_ecr_repository.lambda

  repository = each.value.name
  policy     = data.aws_iam_policy_document.lambda_pull[each.key].json
}
