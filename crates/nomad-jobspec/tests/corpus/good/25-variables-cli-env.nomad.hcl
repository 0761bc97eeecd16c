# args: -var image=registry.example.com/orders-api:2.0.1 -var replicas=4 -var debug=true
# env: NOMAD_VAR_environment=staging NOMAD_VAR_replicas=2 NOMAD_VAR_datacenters=["dc1","dc2"]
#
# Input variables from every source. Precedence (lowest to highest):
# default < NOMAD_VAR_* environment < -var-file < -var. Here replicas ends
# up 4 (the -var beats the environment's 2), environment is "staging",
# datacenters is ["dc1","dc2"], image has no default and comes from -var.

variable "image" {
  type        = string
  description = "Container image, including the tag."
}

variable "replicas" {
  type        = number
  default     = 1
  description = "How many API allocations to run."

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 20
    error_message = "The replicas value must be between 1 and 20."
  }
}

variable "environment" {
  type    = string
  default = "dev"

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "The environment must be one of dev, staging or prod."
  }

  validation {
    condition     = length(var.environment) <= 10
    error_message = "The environment name is too long."
  }
}

variable "debug" {
  type    = bool
  default = false
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

# No type: inferred from the default.
variable "http_port" {
  default = 8080
}

# Older, attribute-style declaration of several variables at once.
variables {
  log_level = "info"
  team      = "orders"
}

job "orders-api" {
  datacenters = var.datacenters

  meta {
    environment = var.environment
    team        = var.team
  }

  group "api" {
    count = var.replicas

    network {
      port "http" {
        to = var.http_port
      }
    }

    task "api" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http"]
      }

      env {
        LOG_LEVEL   = var.debug ? "debug" : var.log_level
        APP_ENV     = var.environment
        LISTEN_ADDR = "0.0.0.0:${var.http_port}"
      }

      resources {
        cpu    = var.environment == "prod" ? 1000 : 250
        memory = 512
      }
    }
  }
}
