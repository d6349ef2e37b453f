/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* the public plugin API of Palaver: include only this header */
#define __PALAVER_H_INSIDE__

#include <gmodule.h>

#include "pal-endpoint-info.h"
#include "pal-error.h"
#include "pal-extension.h"
#include "pal-flow.h"
#include "pal-handover.h"
#include "pal-json-util.h"
#include "pal-lua.h"
#include "pal-message.h"
#include "pal-nlu-result.h"
#include "pal-nlu.h"
#include "pal-output.h"
#include "pal-plugin.h"
#include "pal-session.h"
#include "pal-transformer.h"
#include "pal-turn.h"
#include "pal-version.h"

#undef __PALAVER_H_INSIDE__
