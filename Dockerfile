# The reference image slipway releases. The base is a build argument so that releases and the
# local rehearsal (which cannot pull images) can pick it.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

# The wheel that the release built once (and publishes to the package index) is the one that is
# installed: the image runs exactly the published artifact. DIST is that build's directory
# (`cargo xtask docker-validate` and `publish-prod` pass target/slipway/dist/<version>). The wheel
# is unpacked with the stdlib, so the base image needs python3 and nothing else (no pip, no
# network), and exactly one wheel must be there (a stale one would install the wrong version).
ARG DIST=dist
COPY ${DIST}/*.whl /tmp/dist/
RUN python3 -c "import glob, sys, sysconfig, zipfile; \
wheels = glob.glob('/tmp/dist/*.whl'); \
len(wheels) == 1 or sys.exit('expected exactly one wheel, found: %s' % wheels); \
zipfile.ZipFile(wheels[0]).extractall(sysconfig.get_paths()['purelib'])" \
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
