# The role the drift workflow (.github/workflows/drift.yml) assumes through OIDC: read-only, short-lived
# credentials. It trusts exactly what the deploy role trusts (infra/github.tf): jobs of this repository running in
# the deploy environment. It may make the one call `python -m nlpops.monitor drift --cloudwatch` makes
# (src/nlpops/monitor/cloudwatch.py: FilterLogEvents, paginated), on the tasks' function log groups only.

resource "aws_iam_role" "github_drift" {
  name                 = "${local.settings.NAME_PREFIX}-github-drift"
  description          = "Drift reports of ${var.github_repository}: read each task function's logs, nothing else"
  assume_role_policy   = data.aws_iam_policy_document.github_assume.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "github_drift" {
  statement {
    sid     = "ReadFunctionLogs"
    actions = ["logs:FilterLogEvents"]
    # each task's log group (for_each over local.functions), in both ARN forms IAM matches log-group reads against
    resources = flatten([for group in aws_cloudwatch_log_group.function : [group.arn, "${group.arn}:*"]])
  }
}

resource "aws_iam_role_policy" "github_drift" {
  name   = "read-function-logs"
  role   = aws_iam_role.github_drift.id
  policy = data.aws_iam_policy_document.github_drift.json
}
