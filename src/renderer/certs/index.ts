// TLS certificates of the renderer (--certs): see store.ts.
export { CertStore, copyBase, type Refused, type CertStoreOptions } from './store.js'
export { CertIndex, type TlsFor, type CertEntry } from './lookup.js'
export { CertRefusal, checkCertificate, certNames, covers, isCertName, type CertInfo, type CertRefusalReason } from './loader.js'
export { scanCertDir, pairsOf, type CertSource } from './scan.js'
export { CertWatch } from './watch.js'
export { createCertMetrics, type CertMetrics } from './metrics.js'
