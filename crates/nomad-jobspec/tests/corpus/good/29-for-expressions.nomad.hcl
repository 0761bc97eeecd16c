# for expressions (list and map results, with and without `if`), splats,
# index/attribute access and conditionals.

variable "regions" {
  type = map(object({
    enabled = bool
    dcs     = list(string)
    weight  = number
  }))
  default = {
    east = {
      enabled = true
      dcs     = ["use1-a", "use1-b"]
      weight  = 60
    }
    west = {
      enabled = true
      dcs     = ["usw2-a"]
      weight  = 40
    }
    south = {
      enabled = false
      dcs     = ["sa1-a"]
      weight  = 0
    }
  }
}

variable "sidecars" {
  type = list(object({
    name  = string
    image = string
  }))
  default = [
    { name = "envoy", image = "envoyproxy/envoy:v1.29-latest" },
    { name = "otel", image = "otel/opentelemetry-collector:0.96.0" },
  ]
}

locals {
  # list comprehension with a filter, flattened afterwards
  enabled_dcs = flatten([for name, r in var.regions : r.dcs if r.enabled])

  # map comprehension with a filter
  region_weights = { for name, r in var.regions : name => r.weight if r.weight > 0 }

  # list comprehension over a list, using the index
  sidecar_labels = [for i, s in var.sidecars : "${i}:${s.name}"]

  # map comprehension with upper-cased keys
  env_from_meta = { for k, v in local.meta : upper(k) => v }

  # splat expression
  sidecar_images = var.sidecars[*].image

  # grouping mode (`...`) collects values with the same key into lists
  dcs_by_letter = { for dc in local.enabled_dcs : substr(dc, 0, 3) => dc... }

  meta = {
    owner = "platform"
    tier  = "edge"
  }
}

job "edge-gateway" {
  datacenters = local.enabled_dcs

  meta {
    sidecars       = join(",", local.sidecar_labels)
    first_sidecar  = local.sidecar_images[0]
    east_weight    = local.region_weights["east"]
    use1_dc_count  = length(local.dcs_by_letter["use"])
    has_south      = contains(keys(local.region_weights), "south") ? "yes" : "no"
  }

  group "gateway" {
    count = length(local.enabled_dcs)

    task "gateway" {
      driver = "docker"

      config {
        image = "registry.example.com/edge-gateway:5.5.0"
        args  = [for dc in local.enabled_dcs : "--dc=${dc}"]
      }

      env = local.env_from_meta

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
