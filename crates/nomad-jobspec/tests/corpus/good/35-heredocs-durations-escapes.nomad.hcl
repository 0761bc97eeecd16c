# Heredoc strings (<<EOF keeps indentation, <<-EOF strips the common
# leading whitespace), interpolation and directives inside them, the $${
# and %%{ escapes, and durations written in several forms.

variable "debug" {
  type    = bool
  default = true
}

variable "upstreams" {
  type    = list(string)
  default = ["10.1.0.10:9000", "10.1.0.11:9000"]
}

job "haproxy" {
  datacenters = ["dc1"]

  reschedule {
    attempts       = 10
    interval       = "72h"
    delay          = "30s"
    delay_function = "exponential"
    max_delay      = "1h30m"
    unlimited      = false
  }

  group "lb" {
    shutdown_delay = "2.5s"

    restart {
      attempts = 5
      interval = "1h30m"
      delay    = "1m30s"
      mode     = "fail"
    }

    network {
      port "http" {
        static = 8000
      }
    }

    task "haproxy" {
      driver = "docker"

      config {
        image = "haproxy:2.9"
        ports = ["http"]
        # $${...} is an escape: HAProxy itself sees "${HOSTNAME}"
        args = ["-f", "/local/haproxy.cfg", "-L", "$${HOSTNAME}"]
      }

      # <<EOF: the text is kept exactly, including indentation;
      # ${...} and %{...} are still evaluated by HCL.
      template {
        destination = "local/haproxy.cfg"
        splay       = "500ms"
        data        = <<EOF
global
    log stdout format raw local0 %{ if var.debug }debug%{ else }info%{ endif }

defaults
    timeout connect 5s
    timeout client  30s

frontend web
    bind *:8000
    default_backend app

backend app
%{ for i, addr in var.upstreams ~}
    server app${i} ${addr} check
%{ endfor ~}
EOF
      }

      # <<-EOF: common leading whitespace is removed; a runtime
      # reference and the literal-percent escape are kept as text.
      template {
        destination = "local/banner.txt"
        data        = <<-EOT
          Served by ${NOMAD_ALLOC_ID}
          Literal directive: %%{ not-a-directive }
          Literal interpolation: $${not_interpolated}
        EOT
      }

      kill_timeout   = "250ms"
      shutdown_delay = "0s"

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
