output "github_deploy_role_arn" {
  description = "Set it as the AWS_DEPLOY_ROLE_ARN variable of the GitHub environment (docs/deployment.md)."
  value       = aws_iam_role.github_deploy.arn
}

output "github_drift_role_arn" {
  description = "Set it as the AWS_DRIFT_ROLE_ARN variable of the GitHub environment (docs/monitoring.md)."
  value       = aws_iam_role.github_drift.arn
}

output "ecr_repository_urls" {
  description = "Where CD pushes each task's Lambda images (tag: commit SHA), by task."
  value       = { for task, repository in aws_ecr_repository.lambda : task => repository.repository_url }
}

output "dvc_remote" {
  description = "The DVC remote this bucket holds (.dvc/config, remote `storage`)."
  value       = "s3://${aws_s3_bucket.artifacts.bucket}/${local.dvc_remote.prefix}"
}

output "function_urls" {
  description = "The public URL of each task's stage alias, by TASK/STAGE (a task is absent until its function exists: set image_tag)."
  value       = { for key, url in aws_lambda_function_url.stage : key => url.function_url }
}

output "sagemaker_role_arn" {
  description = "The execution role of SageMaker jobs: export it as NLPOPS_SAGEMAKER_ROLE_ARN for python -m nlpops.cloud (docs/cloud-setup.md)."
  value       = aws_iam_role.sagemaker.arn
}

output "train_repository_url" {
  description = "Where CD pushes the training image that SageMaker jobs run (tag: commit SHA)."
  value       = aws_ecr_repository.train.repository_url
}
