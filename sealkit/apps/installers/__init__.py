"""Built-in app installers: helm, manifests and cmd (sealos compatibility), each a plugin of the app hooks."""
