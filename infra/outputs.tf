output "github_deploy_role_arn" {
  description = "Set it as the AWS_DEPLOY_ROLE_ARN variable of the GitHub environment (docs/deployment.md)."
  value       = aws_iam_role.github_deploy.arn
}

output "ecr_repository_url" {
  description = "Where CD pushes the Lambda images (tag: commit SHA)."
  value       = aws_ecr_repository.lambda.repository_url
}

output "dvc_remote" {
  description = "The DVC remote this bucket holds (.dvc/config, remote `storage`)."
  value       = "s3://${aws_s3_bucket.artifacts.bucket}/${local.dvc_remote.prefix}"
}

output "function_url" {
  description = "The public URL of the live alias (null until the function exists: set image_tag)."
  value       = one(aws_lambda_function_url.live[*].function_url)
}
