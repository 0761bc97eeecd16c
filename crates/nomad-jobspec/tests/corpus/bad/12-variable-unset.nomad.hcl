# Mistake: a variable with neither a default nor a value from -var, -var-file or NOMAD_VAR_.
variable "registry_token" {
  type        = string
  description = "Token for the private registry."
}

job "web" {
  datacenters = ["dc1"]

  group "web" {
    task "web" {
      driver = "docker"

      config {
        image = "registry.example.com/web:1.0.0"

        auth {
          username = "deploy"
          password = var.registry_token
        }
      }
    }
  }
}
