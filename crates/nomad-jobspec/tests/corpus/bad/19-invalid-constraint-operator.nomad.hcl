# Mistake: "regex" is not a constraint operator (the operator is "regexp").
job "web" {
  datacenters = ["dc1"]

  group "web" {
    constraint {
      attribute = "${node.unique.name}"
      operator  = "regex"
      value     = "^web-[0-9]+$"
    }

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
