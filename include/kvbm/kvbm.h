/* kvbm/kvbm.h - umbrella header: the whole public API of kvbm. */
#ifndef KVBM_KVBM_H
#define KVBM_KVBM_H
#include "kvbm/common.h"
#include "kvbm/config.h"
#include "kvbm/plh.h"
#include "kvbm/tokens.h"
#include "kvbm/tracker.h"
#include "kvbm/registry.h"
#include "kvbm/metrics.h"
#include "kvbm/aggregator.h"
#include "kvbm/stats.h"
#include "kvbm/manager.h"
#include "kvbm/publisher.h"
#include "kvbm/log.h"
#include "kvbm/events.h"
#include "kvbm/events_pipeline.h"
#include "kvbm/sequence.h"
#include "kvbm/request.h"
#include "kvbm/schedulable.h"
#endif
