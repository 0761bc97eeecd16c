# Mistake: filetemplate() does not exist (the function is templatefile).
job "web" {
  datacenters = ["dc1"]

  group "web" {
    task "web" {
      driver = "docker"

      config {
        image = "nginx:1.25"
      }

      template {
        destination = "local/app.conf"
        data        = filetemplate("files/app.conf.tpl", { port = 8080 })
      }
    }
  }
}
