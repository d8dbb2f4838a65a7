-- Health of an install.istio.io/IstioOperator for Argo CD, stricter than Argo's built-in check:
-- a status counts only once the operator has seen the current generation, and the Ready and
-- Reconciled conditions decide, so a stale HEALTHY from before an edit is never reported as Healthy.
-- Written for Argo CD's Lua 5.1 runtime: no goto, no integer division, no string.format %q tricks.
local hs = { status = "Progressing", message = "Waiting for the istio-operator to report status" }
if obj.status == nil or obj.status.status == nil then
  return hs
end

local generation = obj.metadata and obj.metadata.generation or nil
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Waiting for the istio-operator to reconcile generation " .. tostring(generation)
  return hs
end

local function condition(kind)
  if obj.status.conditions == nil then return nil end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      -- A condition about an older generation says nothing about this one.
      if generation ~= nil and c.observedGeneration ~= nil and c.observedGeneration < generation then return nil end
      return c
    end
  end
  return nil
end

local message = obj.status.message or ""
local s = obj.status.status
if s == "ERROR" or s == 4 then
  hs.status = "Degraded"
  hs.message = "Error: " .. message
  return hs
end
if s == "ACTION_REQUIRED" or s == 5 then
  -- Deletion waits for people (a revision still in use): show it loudly rather than as progress.
  hs.status = "Degraded"
  hs.message = "Action required: " .. message
  return hs
end

local reconciled = condition("Reconciled")
local ready = condition("Ready")
if reconciled ~= nil and reconciled.status == "False" then
  hs.status = "Degraded"
  hs.message = (reconciled.reason or "NotReconciled") .. ": " .. (reconciled.message or message)
  return hs
end
if (s == "HEALTHY" or s == 3) and ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message
  return hs
end
if s == "NONE" or s == 0 then
  hs.status = "Unknown"
  hs.message = "Nothing installed yet"
  return hs
end
hs.message = message ~= "" and message or "Reconciling"
return hs
