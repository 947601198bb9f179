"""Live updates over Socket.IO (namespace ``/realtime``)."""
