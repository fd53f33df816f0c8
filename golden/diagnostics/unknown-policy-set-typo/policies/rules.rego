package harbor.rules

import rego.v1

violation := set()
