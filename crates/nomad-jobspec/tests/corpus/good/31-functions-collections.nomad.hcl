# Collection functions: concat, length, lookup, merge, keys, values,
# element, contains, range, flatten.

variable "tier" {
  type    = string
  default = "large"
}

variable "extra_tags" {
  type    = list(string)
  default = ["canary-eligible"]
}

locals {
  sizes = {
    small  = 256
    medium = 512
    large  = 1024
  }

  base_meta = {
    owner = "search"
    tier  = var.tier
  }

  override_meta = {
    tier   = "override-${var.tier}"
    oncall = "search-oncall"
  }

  merged_meta = merge(local.base_meta, local.override_meta, { generated = "true" })
  memory      = lookup(local.sizes, var.tier, 256)
  fallback    = lookup(local.sizes, "xlarge", 2048)
  tags        = concat(["search", "api"], var.extra_tags, [var.tier])
  shard_ids   = range(0, 12, 4)                               # [0, 4, 8]
  all_ports   = flatten([[8080, 8081], [9090], []])
  zones       = ["a", "b", "c"]
  my_zone     = element(local.zones, 4)                       # wraps: "b"
}

job "search-api" {
  datacenters = ["dc1"]
  meta        = local.merged_meta

  group "api" {
    count = length(local.shard_ids)

    network {
      port "http" {
        static = element(local.all_ports, 0)
      }
    }

    service {
      name     = "search-api"
      port     = "http"
      provider = "nomad"
      tags     = local.tags
    }

    task "api" {
      driver = "docker"

      config {
        image = "registry.example.com/search-api:8.1.0"
        args = concat(
          ["--shards", join(",", [for s in local.shard_ids : format("%d", s)])],
          contains(local.tags, "canary-eligible") ? ["--canary-ok"] : [],
        )
      }

      meta {
        size_names    = join(",", keys(local.sizes))
        size_values   = join(",", [for v in values(local.sizes) : format("%d", v)])
        zone          = local.my_zone
        fallback_mem  = local.fallback
        port_count    = length(local.all_ports)
        has_debug_tag = contains(local.tags, "debug")
      }

      resources {
        cpu    = 500
        memory = local.memory
      }
    }
  }
}
