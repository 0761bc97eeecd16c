# Video transcoder dispatched on demand: `nomad job dispatch -meta
# profile=1080p transcode input.json`. The payload lands in local/job.json.
job "transcode" {
  type        = "batch"
  datacenters = ["media-*"]

  parameterized {
    payload       = "required"
    meta_required = ["profile"]
    meta_optional = ["priority_hint", "callback_url"]
  }

  meta {
    profile       = "720p"
    priority_hint = "normal"
  }

  group "ffmpeg" {
    task "transcode" {
      driver = "docker"

      dispatch_payload {
        file = "job.json"
      }

      config {
        image = "jrottenberg/ffmpeg:6.1-ubuntu"
        args = [
          "-i", "${NOMAD_TASK_DIR}/job.json",
          "-preset", "${NOMAD_META_profile}",
        ]
      }

      resources {
        cpu    = 4000
        memory = 4096

        device "nvidia/gpu" {
          count = 1
        }
      }
    }
  }
}
