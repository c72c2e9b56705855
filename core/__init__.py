"""tongdai core: configuration, the AMI adapter, the FastAGI server, call tracking, the event bus
and the database."""
