// The activity feed: a publisher fed by the buckets every registry watches,
// and the GET /v1/events route reading the stream back.
export { startActivityPublisher, type ActivityPublisherOptions } from './publisher.js'
export { activityRoutes, type ActivityRoutesOptions } from './routes.js'
export { appliedEvent, assignmentEvent, endpointEvent, hostEvent, ipamEvent, specEvent } from './describe.js'
