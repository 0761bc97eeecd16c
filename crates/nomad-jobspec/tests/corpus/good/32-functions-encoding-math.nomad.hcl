# Encoding and numeric functions: jsonencode, jsondecode, base64encode,
# base64decode, min, max, abs, ceil, floor.

variable "feature_json" {
  type    = string
  default = "{\"search_v2\": true, \"max_results\": 50, \"regions\": [\"eu\", \"us\"]}"
}

variable "requested_workers" {
  type    = number
  default = 7.6
}

variable "memory_delta" {
  type    = number
  default = -128
}

locals {
  features = jsondecode(var.feature_json)

  app_config = jsonencode({
    search = {
      v2          = local.features.search_v2
      max_results = local.features.max_results
    }
    regions = local.features.regions
  })

  # "c2VjcmV0LXNlZWQ=" decodes to "secret-seed"
  seed          = base64decode("c2VjcmV0LXNlZWQ=")
  config_base64 = base64encode(local.app_config)

  workers_up   = ceil(var.requested_workers)               # 8
  workers_down = floor(var.requested_workers)              # 7
  workers      = max(1, min(local.workers_up, 6))          # clamp to [1, 6]
  memory       = 512 + abs(var.memory_delta)               # 640
  largest      = max([3, 9, 4]...)                         # 9, via argument expansion
}

job "feature-service" {
  datacenters = ["dc1"]

  group "svc" {
    count = local.workers

    task "svc" {
      driver = "docker"

      config {
        image = "registry.example.com/feature-service:1.3.0"
        args  = ["--config-b64", local.config_base64]
      }

      env {
        APP_CONFIG     = local.app_config
        SEED           = local.seed
        REGION_COUNT   = length(local.features.regions)
        LARGEST_BUCKET = local.largest
      }

      resources {
        cpu    = 250
        memory = local.memory
      }
    }
  }
}
