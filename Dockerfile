# The agentvitals image: the library, the demo (agent, fake model server, tool service) and the CLI.
FROM python:3.11.14-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY agentvitals ./agentvitals
COPY demo_agent ./demo_agent
RUN pip install --no-cache-dir ".[demo]"
USER 65534:65534
ENTRYPOINT ["agentvitals"]
