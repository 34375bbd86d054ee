# One image for every driftgate role: `docker run IMAGE <role> [options]`.
# No image registry is needed: the bases come from scripts/make-base-image.sh
# (Node 24 from scripts/node24.sh, nginx from the build machine).
# scripts/docker-build.sh does all of it:
#   bash scripts/make-base-image.sh driftgate-base:local          # node + npm: build stage
#   DRIFTGATE_BASE_NO_NPM=1 DRIFTGATE_BASE_NGINX=1 \
#     bash scripts/make-base-image.sh driftgate-runtime:local     # node + nginx: runtime
#   docker build --network host --build-arg BASE=driftgate-base:local \
#     --build-arg RUNTIME=driftgate-runtime:local -t driftgate .
ARG BASE=driftgate-base:local
ARG RUNTIME=${BASE}

FROM ${BASE} AS build
# The build machine's CA bundle (copied into the base): npm must trust a TLS-inspecting proxy as the host does.
ARG CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=${CA_BUNDLE} npm_config_cafile=${CA_BUNDLE}
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# `driftgate demo` imports the test harness; it is compiled but not shipped
# (the demo needs a source checkout on a Docker host, not a container).
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/.package-lock.json node_modules/*/test node_modules/*/docs

FROM ${RUNTIME}
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY templates ./templates
COPY nginx ./nginx
COPY console ./console
# registry: runs as this user. agent: needs the Docker socket and the IPAM
# plugin folder, run it with `--user 0 -v /var/run/docker.sock:/var/run/docker.sock
# -v /run/docker/plugins:/run/docker/plugins`. edge: nginx and the renderer
# are two containers of this image (entrypoint /usr/sbin/nginx for the first),
# the renderer in nginx's pid and network namespaces, sharing the generated
# folder and the main config, so its `nginx -t` is the binary that serves:
# deploy/compose/edge.yml.
# V8's young generation grows to 128 MB under load by default: 16 MB semi-spaces
# bound it (docs/scaling.md "Memory by size"); `docker run -e NODE_OPTIONS=` replaces it.
# The registry and renderer bound their old generation themselves (heapGrowingPercent).
ENV NODE_OPTIONS=--max-semi-space-size=16
USER 10001:10001
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]
