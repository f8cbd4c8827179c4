# Before one function per task, infra/ made a single function (resources with count, or single ones). These
# blocks hand that state to the classification task's instances, so the first apply after the upgrade keeps the
# function, its versions, log group and ECR repository (same names) instead of destroying and recreating them.
# Terraform ignores a block whose old address is not in the state (a new setup). Delete them once every state
# of this stack has been applied with them.
#
# The `live` alias, its Function URL, permissions and provisioned concurrency have no block: the registry's
# stages replaced that alias by `staging` and `prod` (deploy.env STAGES), and a renamed alias is a new alias with a
# new URL whatever its address, so the first apply after that upgrade deletes `live` (docs/registry.md).

moved {
  from = aws_iam_role.function
  to   = aws_iam_role.function["classification"]
}

moved {
  from = aws_iam_role_policy.function
  to   = aws_iam_role_policy.function["classification"]
}

moved {
  from = aws_cloudwatch_log_group.function
  to   = aws_cloudwatch_log_group.function["classification"]
}

moved {
  from = aws_lambda_function.api[0]
  to   = aws_lambda_function.api["classification"]
}

moved {
  from = aws_ecr_repository.lambda
  to   = aws_ecr_repository.lambda["classification"]
}

moved {
  from = aws_ecr_lifecycle_policy.lambda
  to   = aws_ecr_lifecycle_policy.lambda["classification"]
}

moved {
  from = aws_ecr_repository_policy.lambda
  to   = aws_ecr_repository_policy.lambda["classification"]
}
