# jobslo: one image for every role (collector, ingest, serve, run).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY contracts ./contracts
COPY executor ./executor
COPY collector ./collector
COPY store ./store
COPY analyzer ./analyzer
COPY reports ./reports
COPY cli ./cli
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/reports/templates ./reports/templates
USER node
EXPOSE 4317 4318 9464
ENTRYPOINT ["node", "/app/bin/jobslo.js"]
CMD ["--help"]
