# Provisioned concurrency that follows traffic, as an endpoint's autoscaling would: on each promoted stage's
# alias (prod; the alias a push to main moves takes cold starts), Application Auto Scaling keeps the share of
# warm environments in use near a target, between a floor and a ceiling. Off by default: warm environments are
# billed while idle. It replaces the fixed var.provisioned_concurrency (function.tf), which must stay 0 with it.
resource "aws_appautoscaling_target" "provisioned_concurrency" {
  for_each = {
    for key, alias in aws_lambda_alias.stage : key => alias
    if var.provisioned_concurrency_autoscaling && alias.name != local.settings.LAMBDA_ALIAS
  }

  service_namespace  = "lambda"
  scalable_dimension = "lambda:function:ProvisionedConcurrency"
  resource_id        = "function:${each.value.function_name}:${each.value.name}"
  min_capacity       = var.provisioned_concurrency_min
  max_capacity       = var.provisioned_concurrency_max

  lifecycle {
    precondition {
      condition     = var.provisioned_concurrency == 0
      error_message = "provisioned_concurrency_autoscaling moves the alias's provisioned concurrency: set provisioned_concurrency = 0."
    }
    precondition {
      condition     = var.provisioned_concurrency_min <= var.provisioned_concurrency_max
      error_message = "provisioned_concurrency_min must not be above provisioned_concurrency_max."
    }
  }
}

resource "aws_appautoscaling_policy" "provisioned_concurrency" {
  for_each = aws_appautoscaling_target.provisioned_concurrency

  name               = "provisioned-concurrency-utilization"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = each.value.service_namespace
  scalable_dimension = each.value.scalable_dimension
  resource_id        = each.value.resource_id

  target_tracking_scaling_policy_configuration {
    target_value = var.provisioned_concurrency_target

    predefined_metric_specification {
      predefined_metric_type = "LambdaProvisionedConcurrencyUtilization"
    }
  }
}
