# String functions: upper, lower, format, join, split, replace, trimspace,
# substr.

variable "app" {
  type    = string
  default = "  Image-Resizer  "
}

variable "git_sha" {
  type    = string
  default = "9f3c2a17be04d55e8a61c0f2d4b7e3a9c1d08f6e"
}

variable "allowed_origins" {
  type    = string
  default = "https://a.example.com, https://b.example.com,https://c.example.com"
}

locals {
  app_name  = lower(trimspace(var.app))                     # "image-resizer"
  env_name  = upper(replace(local.app_name, "-", "_"))      # "IMAGE_RESIZER"
  short_sha = substr(var.git_sha, 0, 7)                     # "9f3c2a1"
  origins   = [for o in split(",", var.allowed_origins) : trimspace(o)]
  image     = format("registry.example.com/%s:%s", local.app_name, local.short_sha)
  banner    = format("%-12s|%5d|%.2f|%t|%q", "resizer", 42, 3.14159, true, "x")
}

job "image-resizer" {
  datacenters = ["dc1"]

  meta {
    origins_csv = join(",", local.origins)
    banner      = local.banner
    build       = substr(var.git_sha, -8, -1)
  }

  group "resizer" {
    task "resizer" {
      driver = "docker"

      config {
        image = local.image
      }

      # attribute form, so the key can be computed
      env = {
        "${local.env_name}_ORIGINS" = join(" ", local.origins)
        APP_NAME                    = local.app_name
      }

      resources {
        cpu    = 400
        memory = 512
      }
    }
  }
}
