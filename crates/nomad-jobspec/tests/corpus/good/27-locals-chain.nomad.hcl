# Locals spread over several blocks and defined out of order: each one may
# use variables, functions and other locals, wherever they are declared.

variable "env" {
  type    = string
  default = "prod"
}

variable "base_memory" {
  type    = number
  default = 256
}

locals {
  # uses locals from the second block
  image = "${local.registry}/${local.app}:${local.version}"

  # conditional + arithmetic
  memory = local.is_prod ? var.base_memory * 4 : var.base_memory
  cpu    = local.is_prod ? 1000 : 250 + 50

  is_prod = var.env == "prod"
}

locals {
  app      = "ledger"
  version  = "1.12.3"
  registry = "registry.example.com/${local.team}"
  team     = "finance"

  # boolean logic and comparisons
  canaries     = local.is_prod && !local.hotfix ? 2 : 0
  hotfix       = false
  replica_math = (3 + 2) * 2 - 10 / 5 % 3
}

locals {
  job_name = "${local.app}-${var.env}"
  tags     = [local.team, local.app, var.env, local.is_prod ? "critical" : "best-effort"]
}

job "ledger" {
  name        = local.job_name
  datacenters = ["dc1"]

  update {
    canary       = local.canaries
    max_parallel = 1
  }

  group "ledger" {
    count = local.replica_math

    network {
      port "http" {}
    }

    service {
      name     = local.job_name
      port     = "http"
      tags     = local.tags
      provider = "nomad"
    }

    task "ledger" {
      driver = "docker"

      config {
        image = local.image
        ports = ["http"]
      }

      resources {
        cpu    = local.cpu
        memory = local.memory
      }
    }
  }
}
