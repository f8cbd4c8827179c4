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

  account_id    = data.aws_caller_identity.current.account_id
  function_name = local.settings.LAMBDA_FUNCTION
  function_arn  = "arn:aws:lambda:${local.settings.AWS_REGION}:${local.account_id}:function:${local.function_name}"
  # The function is created once its first image exists (var.image_tag) and kept from then on, set or not:
  # CD owns its image, and an apply without image_tag must never destroy it.
  create_function = var.image_tag != null || contains(data.aws_lambda_functions.all.function_names, local.function_name)
}

data "aws_lambda_functions" "all" {}
