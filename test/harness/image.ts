export * from '../../src/lab/image.js'
