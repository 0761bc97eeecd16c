# Template block options: inline data (plain and indented heredocs),
# source files, change modes (restart, signal, noop, script), env files,
# permissions and ownership, splay, wait, custom delimiters, once.
job "config-renderer" {
  datacenters = ["dc1"]

  group "app" {
    task "app" {
      driver = "docker"

      config {
        image = "registry.example.com/app:9.9.0"
      }

      # 1. plain heredoc, restart on change (the default)
      template {
        destination = "local/app.ini"
        change_mode = "restart"
        data        = <<EOF
[server]
name = {{ env "NOMAD_TASK_NAME" }}
alloc = {{ env "NOMAD_ALLOC_ID" }}
EOF
      }

      # 2. indented heredoc, reload by signal, custom file mode and owner
      template {
        destination   = "local/nginx-upstreams.conf"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        perms         = "0640"
        uid           = 1000
        gid           = 1000
        splay         = "10s"
        data          = <<-EOT
          upstream app {
          {{- range nomadService "app-backend" }}
            server {{ .Address }}:{{ .Port }};
          {{- end }}
          }
        EOT

        wait {
          min = "2s"
          max = "20s"
        }
      }

      # 3. file shipped by an artifact, never re-rendered
      template {
        source      = "local/templates/feature-flags.json.tpl"
        destination = "local/feature-flags.json"
        change_mode = "noop"
        once        = true
      }

      # 4. env file with a custom delimiter pair
      template {
        destination          = "secrets/app.env"
        env                  = true
        left_delimiter       = "[["
        right_delimiter      = "]]"
        error_on_missing_key = true
        data                 = "API_KEY=[[ with nomadVar \"nomad/jobs/config-renderer\" ]][[ .api_key ]][[ end ]]\n"
      }

      # 5. run a script inside the task when the certificate changes
      template {
        destination = "secrets/tls.pem"
        change_mode = "script"
        data        = "{{ with nomadVar \"nomad/jobs/config-renderer/tls\" }}{{ .cert }}{{ end }}"

        change_script {
          command       = "/app/bin/reload-tls"
          args          = ["--cert", "/secrets/tls.pem"]
          timeout       = "20s"
          fail_on_error = true
        }
      }

      artifact {
        source      = "https://config.example.com/templates/feature-flags.json.tpl"
        destination = "local/templates/feature-flags.json.tpl"
        mode        = "file"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
