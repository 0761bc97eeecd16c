# args: -var-file=files/prod.vars.hcl -var-file=files/limits.vars.json
#
# Complex variable types filled from an HCL var file and a JSON var file.
# Later files win: instance_count is 5 (limits.vars.json), not 3.

variable "service_name" {
  type = string
}

variable "instance_count" {
  type    = number
  default = 1
}

variable "max_parallel" {
  type    = number
  default = 1
}

variable "datacenters" {
  type = list(string)
}

variable "labels" {
  type    = map(string)
  default = {}
}

variable "task_resources" {
  type = map(object({
    cpu    = number
    memory = number
  }))
}

variable "deploy" {
  type = object({
    canaries     = number
    auto_promote = bool
  })
  default = {
    canaries     = 0
    auto_promote = false
  }
}

job "catalog" {
  datacenters = var.datacenters
  meta        = var.labels

  update {
    max_parallel = var.max_parallel
    canary       = var.deploy.canaries
    auto_promote = var.deploy.auto_promote
  }

  group "catalog" {
    count = var.instance_count

    task "api" {
      driver = "docker"

      config {
        image = "registry.example.com/${var.service_name}-api:3.0.0"
      }

      resources {
        cpu    = var.task_resources["api"].cpu
        memory = var.task_resources["api"].memory
      }
    }

    task "indexer" {
      driver = "docker"

      config {
        image = "registry.example.com/${var.service_name}-indexer:3.0.0"
      }

      resources {
        cpu    = var.task_resources.indexer.cpu
        memory = var.task_resources.indexer.memory
      }
    }
  }
}
