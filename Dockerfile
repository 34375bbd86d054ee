# One image for every driftgate role: `docker run IMAGE <role> [options]`.
# No image registry is needed: the base comes from `scripts/make-base-image.sh`
# (Node.js and npm from the build machine), chosen with --build-arg BASE=...
#   bash scripts/make-base-image.sh driftgate-base:local
#   docker build --network host --build-arg BASE=driftgate-base:local -t driftgate .
ARG BASE=driftgate-base:local

FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --no-audit --no-fund

FROM ${BASE}
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY templates ./templates
COPY nginx ./nginx
# Roles that need no privileges (registry, renderer without a local nginx
# master owned by root) run as this user; the agent needs the Docker socket
# and the IPAM plugin folder: run it with `--user 0`.
USER 10001:10001
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]
