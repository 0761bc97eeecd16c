# Mistake: the task does not say which driver runs it.
job "web" {
  datacenters = ["dc1"]

  group "web" {
    task "web" {
      config {
        image = "nginx:1.25"
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
