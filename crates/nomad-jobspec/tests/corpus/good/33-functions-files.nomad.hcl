# file(): read files that sit next to the jobspec (paths are relative to
# the jobspec's directory) into templates, settings and meta.

locals {
  settings = jsondecode(file("files/settings.json"))
  version  = trimspace(file("files/VERSION"))
}

job "docs-site" {
  datacenters = ["dc1"]

  meta {
    version = local.version
  }

  group "site" {
    count = local.settings.replicas

    network {
      port "http" {
        to = 8080
      }
    }

    task "nginx" {
      driver = "docker"

      config {
        image = "nginx:1.25"
        ports = ["http"]
        volumes = [
          "local/site.conf:/etc/nginx/conf.d/default.conf",
        ]
      }

      template {
        destination = "local/site.conf"
        data        = file("files/site.conf")
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }

    task "app" {
      driver = "docker"

      config {
        image = local.settings.image
      }

      resources {
        cpu    = local.settings.cpu
        memory = local.settings.memory
      }
    }
  }
}
