# The region and resource names come from deploy.env, the file the CD workflow and `python -m nlpops.deploy`
# read too: each name is written once. Sizes and limits are variables (variables.tf).
locals {
  settings = {
    for pair in [
      for line in split("\n", file("${path.module}/../deploy.env")) : regex("^([A-Z][A-Z0-9_]*)=(\\S+)$", trimspace(line))
      if can(regex("^[A-Z][A-Z0-9_]*=", trimspace(line)))
    ] : pair[0] => pair[1]
  }
  # s3://BUCKET/PREFIX, the `storage` remote of .dvc/config
  dvc_remote = regex("^s3://(?P<bucket>[^/]+)/(?P<prefix>.+)$", local.settings.DVC_REMOTE)

  account_id = data.aws_caller_identity.current.account_id
  # One function per task, with an ECR repository of the same name: {task => NAME_PREFIX-NAME} from the TASK:NAME
  # pairs of TASKS. Every per-task resource is one definition iterating over this map, keyed by the task.
  functions = {
    for pair in split(",", local.settings.TASKS) : split(":", pair)[0] => "${local.settings.NAME_PREFIX}-${split(":", pair)[1]}"
  }
  function_arns = {
    for task, name in local.functions : task => "arn:aws:lambda:${local.settings.AWS_REGION}:${local.account_id}:function:${name}"
  }
  # The aliases of each created function, one per registry stage of STAGES ("staging", "prod"), keyed TASK/STAGE.
  # CD moves LAMBDA_ALIAS on each push to main and another stage's alias on a stage tag (docs/registry.md).
  aliases = {
    for pair in setproduct(keys(local.functions), split(",", local.settings.STAGES)) : "${pair[0]}/${pair[1]}" => {
      task  = pair[0]
      stage = pair[1]
    }
  }
  # A function is created once its first image exists (var.image_tag) and kept from then on, set or not:
  # CD owns its image, and an apply without image_tag must never destroy it.
  created_functions = {
    for task, name in local.functions : task => name
    if var.image_tag != null || contains(data.aws_lambda_functions.all.function_names, name)
  }
}

data "aws_lambda_functions" "all" {}
