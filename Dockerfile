# pod-hardener image: make image (or docker build -t pod-hardener:0.1.0 .)
#
# Stage 1 compiles TypeScript and keeps the production dependencies only. Stage 2 is distroless
# Node.js: no shell, no package manager, runs as the nonroot user (65532). For reproducible builds,
# pin both images by digest: --build-arg BUILD_IMAGE=node:20.20.2-bookworm-slim@sha256:...
ARG BUILD_IMAGE=node:20.20.2-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev

FROM ${RUNTIME_IMAGE}
WORKDIR /app
# cli.js reads ../package.json for --version.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
ENV NODE_ENV=production
USER 65532:65532
EXPOSE 8443
# Nothing is written at run time except under /tmp (an emptyDir in the Deployment), so the root
# filesystem can be read-only.
ENTRYPOINT ["/nodejs/bin/node", "dist/cli.js"]
CMD ["serve"]
