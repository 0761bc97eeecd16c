# args: -var count=abc
# Mistake: the -var value cannot be converted to the declared type.
variable "count" {
  type    = number
  default = 1
}

job "web" {
  datacenters = ["dc1"]

  group "web" {
    count = var.count

    task "app" {
      driver = "docker"

      config {
        image = "registry.example.com/app:1.0.0"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
