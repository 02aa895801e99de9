"""Several instances on one PostgreSQL and one RabbitMQ (issue 14)."""
