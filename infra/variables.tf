variable "github_repository" {
  description = "The GitHub repository whose CD workflow may deploy, as OWNER/NAME."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like OWNER/NAME."
  }
}

variable "github_environment" {
  description = "The GitHub environment the CD jobs run in; only its OIDC tokens may assume the deploy role."
  type        = string
  default     = "production"
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub Actions OIDC provider; false if the account already has one."
  type        = bool
  default     = true
}

variable "image_tag" {
  description = <<-EOT
    Tag of the images to create the tasks' Lambda functions from (a commit SHA that CD pushed to every task's
    ECR repository), needed once per new task: an apply with it creates each function that does not exist yet.
    Unset on the first apply, which creates the bucket, the registries and the roles: a function needs an image.
    Once a function exists, CD deploys every later image and this variable can stay unset.
  EOT
  type        = string
  default     = null
}

variable "memory_size" {
  description = "Lambda memory of each function in MB; CPU grows with it (1769 MB = 1 vCPU). Applies from the next release."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory_size >= 512 && var.memory_size <= 10240
    error_message = "memory_size must be between 512 and 10240 MB."
  }
}

variable "timeout" {
  description = "Lambda timeout of each function in seconds, cold start included. Applies from the next release."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 900
    error_message = "timeout must be between 3 and 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = <<-EOT
    Most concurrent executions of each function: caps the cost a public URL can run up. -1 reserves none
    (needed on accounts whose concurrency quota is the new-account 10).
  EOT
  type        = number
  default     = 10

  validation {
    condition     = var.reserved_concurrency >= -1
    error_message = "reserved_concurrency must be -1 (none) or a number of executions."
  }
}

variable "provisioned_concurrency" {
  description = "Execution environments kept initialised on each promoted stage's alias (prod; not staging): no cold starts, billed while idle. 0: none."
  type        = number
  default     = 0

  validation {
    condition     = var.provisioned_concurrency >= 0
    error_message = "provisioned_concurrency must be 0 or more."
  }
}

variable "log_retention_days" {
  description = "Days to keep each function's CloudWatch logs."
  type        = number
  default     = 365
}

variable "images_to_keep" {
  description = "Images each ECR repository keeps (newest first); older ones expire. Keep enough to roll back to."
  type        = number
  default     = 30
}

variable "noncurrent_version_days" {
  description = "Days the DVC bucket keeps overwritten or deleted object versions."
  type        = number
  default     = 90
}

variable "provisioned_concurrency_autoscaling" {
  description = "Scale each promoted stage's provisioned concurrency with traffic (autoscaling.tf) between the min and max below. Off by default: warm environments are billed while idle."
  type        = bool
  default     = false
}

variable "provisioned_concurrency_min" {
  description = "With provisioned_concurrency_autoscaling: warm environments kept at the quietest time."
  type        = number
  default     = 1

  validation {
    condition     = var.provisioned_concurrency_min >= 1
    error_message = "provisioned_concurrency_min must be 1 or more."
  }
}

variable "provisioned_concurrency_max" {
  description = "With provisioned_concurrency_autoscaling: most warm environments; keep it below reserved_concurrency."
  type        = number
  default     = 5

  validation {
    condition     = var.provisioned_concurrency_max >= 1
    error_message = "provisioned_concurrency_max must be 1 or more."
  }
}

variable "provisioned_concurrency_target" {
  description = "With provisioned_concurrency_autoscaling: the share of warm environments in use that scaling aims at."
  type        = number
  default     = 0.7

  validation {
    condition     = var.provisioned_concurrency_target >= 0.1 && var.provisioned_concurrency_target <= 0.9
    error_message = "provisioned_concurrency_target must be between 0.1 and 0.9 (AWS's range for this metric)."
  }
}
