# The reference image slipway releases. The base is a build argument so that releases and the
# local rehearsal (which cannot pull images) can pick it.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

# The wheel built by the release (dist/) is the one that is installed: the image runs exactly the
# artifact published to the package index. It is unpacked with the stdlib, so the base image needs
# python3 and nothing else (no pip, no network).
COPY dist/*.whl /tmp/dist/
RUN python3 -c "import glob, sysconfig, zipfile; \
[zipfile.ZipFile(w).extractall(sysconfig.get_paths()['purelib']) for w in glob.glob('/tmp/dist/*.whl')]" \
 && rm -rf /tmp/dist \
 && python3 -c "import slipway_demo; print('installed', slipway_demo.installed_version())"

ENV PORT=8080 PYTHONUNBUFFERED=1
EXPOSE 8080
USER 65534:65534
# python, not curl: the base image has no curl.
HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=5 \
  CMD ["python3", "-c", "import json, os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=2); sys.exit(0 if json.load(r).get('status') == 'healthy' else 1)"]
# Exec form: python is PID 1 and gets SIGTERM from `docker stop` directly.
CMD ["python3", "-m", "slipway_demo"]
