terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.20" # aws_lambda_permission.invoked_via_function_url
    }
  }

  # State is local by default. For a team, keep it in S3 (a bucket of its own, versioned), e.g.
  # terraform init -backend-config="bucket=my-tf-state" -backend-config="key=nlpops.tfstate" after adding
  # backend "s3" {}
}

provider "aws" {
  region = local.settings.AWS_REGION

  default_tags {
    tags = {
      Project   = "nlpops"
      ManagedBy = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}
