"""TrackGo model server: ZeroMQ service, job queue, backends, training and evaluation tools."""
