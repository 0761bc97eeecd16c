# Mistake: the variable's value (here its default) fails its own validation rule.
variable "replicas" {
  type    = number
  default = 0

  validation {
    condition     = var.replicas >= 1
    error_message = "The replicas value must be at least 1."
  }
}

job "web" {
  datacenters = ["dc1"]

  group "web" {
    count = var.replicas

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
