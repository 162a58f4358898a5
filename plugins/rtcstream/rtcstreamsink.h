// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define RTCSTREAM_TYPE_SINK (rtcstream_sink_get_type ())
G_DECLARE_FINAL_TYPE (RtcstreamSink, rtcstream_sink, RTCSTREAM, SINK, GstBin)

GST_ELEMENT_REGISTER_DECLARE (rtcstreamsink);

G_END_DECLS
