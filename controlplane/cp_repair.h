/* cp_repair.h - keeps N running: deletes what died and starts replicas
 * that are wanted but not running (the initial ones and replacements). */
#ifndef CP_REPAIR_H
#define CP_REPAIR_H

#include "cp.h"

int cp_repair_start(struct cp *cp);
void cp_repair_stop(struct cp *cp);

#endif
