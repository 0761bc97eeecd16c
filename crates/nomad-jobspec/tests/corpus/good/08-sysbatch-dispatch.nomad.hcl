# Fleet-wide cache flush, dispatched by operators with a required reason.
# Runs once on every eligible node; no payload is accepted.
job "flush-page-cache" {
  type        = "sysbatch"
  datacenters = ["*"]
  node_pool   = "default"

  parameterized {
    payload       = "forbidden"
    meta_required = ["reason"]
  }

  group "flush" {
    task "drop-caches" {
      driver = "raw_exec"
      user   = "root"

      config {
        command = "/bin/sh"
        args    = ["-c", "sync && echo 1 > /proc/sys/vm/drop_caches && echo flushed: $NOMAD_META_reason"]
      }

      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
