# Mistake: two job blocks in one file (one file = one job).
job "frontend" {
  datacenters = ["dc1"]

  group "web" {

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

job "backend" {
  datacenters = ["dc1"]

  group "api" {

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
