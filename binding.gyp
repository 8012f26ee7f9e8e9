{
  "targets": [
    {
      "target_name": "ceph_rbd",
      "sources": [
        "native/addon.cc",
        "native/hash.cc",
        "native/common/errors.cc",
        "native/common/handle.cc",
        "native/common/aio.cc",
        "native/common/submit_queue.cc",
        "native/common/progress.cc",
        "native/common/pin.cc",
        "native/common/buffer_pool.cc",
        "native/common/background_pool.cc",
        "native/rados_cluster.cc",
        "native/rados_ioctx.cc",
        "native/rados_object.cc",
        "native/rbd_admin.cc",
        "native/rbd_admin_trash.cc",
        "native/rbd_image.cc",
        "native/rbd_image_bounds.cc",
        "native/rbd_image_io.cc",
        "native/rbd_snap.cc",
        "native/rbd_clone.cc",
        "native/rbd_image_meta.cc",
        "native/rbd_ext.cc",
        "native/rbd_namespace.cc",
        "native/rbd_group.cc",
        "native/rbd_encryption.cc",
        "native/rbd_config.cc",
        "native/rbd_update_watch.cc",
        "native/rbd_migration.cc",
        "native/rbd_snap_ext.cc",
        "native/rbd_image_ext.cc",
        "native/rbd_image_options.cc",
        "native/rados_op.cc",
        "native/rados_aio.cc",
        "native/rados_watch.cc",
        "native/rados_lock.cc",
        "native/rados_pool_snap.cc",
        "native/rados_commands.cc",
        "native/rados_list.cc",
        "native/rados_object_more.cc",
        "native/rbd_mirror.cc",
        "native/rbd_mirror_list.cc",
        "native/rbd_mirror_image.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: while an environment terminates
      # (worker.terminate()), node-addon-api must drop an error it cannot throw
      # instead of rethrowing it out of its callback wrapper (std::terminate)
      # or failing fatally while wrapping V8's termination value.
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": ["-lrados", "-lrbd"],
      "conditions": [
        ["OS=='linux' and '<!(echo $CEPH_RBD_SANITIZE)'=='1'", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
